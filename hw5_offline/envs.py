"""Homework 5's environments: a point mass in three mazes (given code), with the maze's shortest
paths, a coverage number and heatmaps.

The mazes are the layouts of Berkeley's CS 285 homework 5 (a small maze, a twisting 6 x 6 maze
and four rooms), with its starts, goals, goal radii, action noise and time limits. A maze is a
grid of square cells, each free or a wall; the point moves continuously among them.

``PointmassEasy-v0``, ``PointmassMedium-v0``, ``PointmassHard-v0`` (registered on import)
    * Observation: the position :math:`(x, y) \\in [0, 1]^2`, the maze's width and height each
      normalised to 1; float64, because the observation *is* the state: every cell lookup made
      from an observation (coverage, heatmaps, :func:`steps_to_goal`) then agrees exactly with
      the environment's own, even on a cell's edge, where the starts of Easy and Hard lie. (A
      network casts it to float32 as it casts any input.)
    * Action: one of :data:`ACTION_NAMES`, ``0`` stay, ``1`` +x, ``2`` -x, ``3`` +y, ``4`` -y:
      a move of one cell along an axis, plus Gaussian noise of standard deviation
      ``action_noise`` (0.5 cells, Berkeley's) on each axis, drawn from the environment's own
      ``np_random`` (seeded by ``reset(seed=...)``). Staying is noisy too.
    * Collisions: the move is made in ``SUBSTEPS`` (10) substeps, x then y in each; a substep that
      would end in a wall cell or outside the square is refused, on that axis only, so the point
      slides along walls and stops short of them. Cells are half-open, ``[i, i + 1)``, except
      that the square's far edge belongs to the last cell.
    * Reward and termination: a step that ends inside the goal region (closer than the goal
      radius to the goal point) earns 0 and ``terminated`` is True; every other step earns -1.
      So a return of -k means k steps outside the goal before reaching it (or before the time
      limit); as in Berkeley's version, so its handout's return targets carry over.
    * Time limit: ``truncated`` after 50 (Easy), 150 (Medium) and 100 (Hard) steps, by the
      TimeLimit wrapper ``gym.make`` adds.
    * Start: fixed (Berkeley's), or ``reset(options={"start": (x, y)})``, any position in a free
      cell outside the goal region.

    Geometry, in cells (:data:`MAZES` holds it, :class:`Maze` describes the fields):

    ======  =======  ====  ==========  ==========  ======  =====  ==========  ============
    maze    grid     free  start       goal        radius  limit  goal cells  start's cell
    ======  =======  ====  ==========  ==========  ======  =====  ==========  ============
    Easy    10 x 10  36    (1, 1)      (9, 9)      2       50     6           13 steps
    Medium  6 x 6    21    (0.5, 0.5)  (1.5, 5.5)  1       150    1           20 steps
    Hard    22 x 22  416   (2, 2)      (20, 20)    2       100    12          33 steps
    ======  =======  ====  ==========  ==========  ======  =====  ==========  ============

    Every free cell is reachable from the start in all three. "Goal cells" are the free cells
    whose centre lies in the goal region; "start's cell" is :func:`steps_to_goal` there.

    Measured by ``python bench/hw5_mazes.py`` (seeded: a rerun prints the same, but for speed):

    ======  ============  ==================  ==============  ===============================
    maze    optimal,      shortest path with  random policy,  random policy's coverage after
            no noise      noise, 100 eps      200 episodes    10k steps, 1 / 4 bins per cell
    ======  ============  ==================  ==============  ===============================
    Easy    -13 (14 st.)  -14.3 +- 2.3        -49.8           0.87 / 0.70
    Medium  -19 (20 st.)  -20.5 +- 3.3        -146.8          1.00 / 0.89
    Hard    -33 (34 st.)  -39.6 +- 6.0        -100.0          0.48 / 0.29
    ======  ============  ==================  ==============  ===============================

    "Optimal, no noise": ``action_noise=0``, following the shortest path from the start; the
    return is -(steps - 1), since the step into the goal earns 0. The starts of Easy and Hard
    sit on a corner of their cell, not its centre, which costs them one step more than their
    cell's :func:`steps_to_goal` (a breadth-first search over the noise-free positions finds
    no shorter path). "Shortest path with noise": the same policy (to the neighbouring cell
    with the fewest steps to go, then straight for the goal) under Berkeley's noise, mean and
    standard deviation over 100 episodes; every one reached the goal. A uniformly random
    policy reached the goal in 5 of 200 episodes on Easy, 17 on Medium and none on Hard;
    otherwise it gets the time limit's return. Its coverage is the fraction of free cells (or
    of their bins, each cell cut into 4 x 4) it visited in 10k steps, episodes restarting at
    the start, mean of seeds 0, 1, 2 (each within 0.06 of it). Medium's 21 cells are all
    visited: there, compare explorers at finer bins or over fewer steps (after 1k steps: 0.84
    / 0.64, seeds 0.67 to 0.95 at one bin per cell). About 40k steps per second of CPU time
    through ``gym.make`` (its wrappers included), on one core of a 2-core machine.

Shortest paths come from ``scipy.sparse.csgraph`` on the graph of free cells, each joined to its
four neighbours: :func:`steps_to_goal` gives, for every cell, the steps a noise-free point at
the cell's centre needs to reach the goal region (each step moves it to a neighbour's centre),
and :func:`reachable_cells` the cells connected to the start, whose fraction visited is
:func:`coverage`. :func:`plot_visitation` and :func:`plot_cell_values` draw heatmaps over the
maze to PNG.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from infrastructure.envs import make_env as make_base_env

ACTION_NAMES: tuple[str, ...] = ("stay", "+x", "-x", "+y", "-y")
# The move of each action, in cells: (dx, dy).
ACTIONS = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
ACTION_NOISE = 0.5
SUBSTEPS = 10

WALL, FREE = "#", "."


@dataclasses.dataclass(frozen=True)
class Maze:
    """The geometry of one maze.

    Positions and lengths here are in cells of the scaled grid (the environment's observation
    divides them by the grid's width and height). Arrays over cells are indexed ``[x, y]``.
    """

    name: str
    """The Gymnasium id the maze is registered under, or any name for a maze of one's own."""
    layout: tuple[str, ...]
    """The maze as it looks on screen: one string per row of cells, top row first, ``#`` a wall
    and ``.`` free."""
    start: tuple[float, float]
    """Where episodes start."""
    goal: tuple[float, float]
    """The centre of the goal region."""
    goal_radius: float
    """A step ending closer than this to ``goal`` terminates the episode."""
    max_episode_steps: int
    """The time limit."""
    scale: int = 1
    """Each character of ``layout`` stands for a ``scale`` x ``scale`` block of cells."""

    def __post_init__(self) -> None:
        widths = {len(row) for row in self.layout}
        if not self.layout or len(widths) != 1 or widths == {0}:
            raise ValueError(
                f"maze {self.name!r}: expected layout rows of one non-zero length, got lengths "
                f"{[len(row) for row in self.layout]}"
            )
        characters = set("".join(self.layout))
        if not characters <= {WALL, FREE}:
            raise ValueError(
                f"maze {self.name!r}: expected layout characters {WALL!r} and {FREE!r}, got "
                f"{sorted(characters - {WALL, FREE})}"
            )
        if not isinstance(self.scale, int) or self.scale < 1:
            raise ValueError(
                f"maze {self.name!r}: expected an integer scale >= 1, got {self.scale}"
            )
        if not self.goal_radius > 0 or self.max_episode_steps <= 0:
            raise ValueError(
                f"maze {self.name!r}: expected goal_radius > 0 and max_episode_steps > 0, got "
                f"{self.goal_radius} and {self.max_episode_steps}"
            )
        for label, point in (("start", self.start), ("goal", self.goal)):
            if not self.is_free(point):
                raise ValueError(
                    f"maze {self.name!r}: expected the {label} in a free cell of the "
                    f"{self.shape[0]} x {self.shape[1]} grid, got {point}"
                )
        if not self.goal_cells.any():
            raise ValueError(
                f"maze {self.name!r}: expected a free cell whose centre is within "
                f"{self.goal_radius} of the goal {self.goal}, found none"
            )

    @functools.cached_property
    def walls(self) -> np.ndarray:
        """``(width, height)`` bool, True on wall cells, indexed ``[x, y]``."""
        # The top row of the layout is the largest y.
        picture = np.array([[c == WALL for c in row] for row in self.layout])
        walls = picture[::-1].T
        return np.repeat(np.repeat(walls, self.scale, axis=0), self.scale, axis=1)

    @property
    def shape(self) -> tuple[int, int]:
        """The grid's ``(width, height)`` in cells."""
        width, height = self.walls.shape
        return width, height

    def cell(self, point: Iterable[float]) -> tuple[int, int]:
        """The cell ``(i, j)`` holding ``point`` (in cells, inside the grid): cells are
        ``[i, i + 1)``, and the grid's far edge belongs to the last cell."""
        x, y = point
        width, height = self.shape
        # Through the observation x / width, as cells_of sees it, so that the two agree even on
        # a cell's edge (15 / 22 * 22 is not 15 in floating point).
        return min(int(x / width * width), width - 1), min(int(y / height * height), height - 1)

    def is_free(self, point: Iterable[float]) -> bool:
        """Whether ``point`` (in cells) lies inside the grid and outside every wall."""
        x, y = point
        width, height = self.shape
        inside = 0.0 <= x <= width and 0.0 <= y <= height
        return inside and not self.walls[self.cell((x, y))]

    def in_goal(self, point: Iterable[float]) -> bool:
        """Whether ``point`` (in cells) lies in the goal region."""
        x, y = point
        # squared distances: exact on the cell centres a noise-free point moves between
        return (x - self.goal[0]) ** 2 + (y - self.goal[1]) ** 2 < self.goal_radius**2

    @functools.cached_property
    def goal_cells(self) -> np.ndarray:
        """``(width, height)`` bool: the free cells whose centre lies in the goal region."""
        x, y = np.meshgrid(*(np.arange(n) + 0.5 for n in self.shape), indexing="ij")
        near = (x - self.goal[0]) ** 2 + (y - self.goal[1]) ** 2 < self.goal_radius**2
        return near & ~self.walls


MAZES: dict[str, Maze] = {
    maze.name: maze
    for maze in (
        Maze(
            name="PointmassEasy-v0",
            layout=(
                ".....",
                ".####",
                ".####",
                ".####",
                ".####",
            ),
            scale=2,
            start=(1.0, 1.0),
            goal=(9.0, 9.0),
            goal_radius=2.0,
            max_episode_steps=50,
        ),
        Maze(
            name="PointmassMedium-v0",
            layout=(
                "..####",
                ".##...",
                "....#.",
                "#####.",
                "...#..",
                ".#...#",
            ),
            start=(0.5, 0.5),
            goal=(1.5, 5.5),
            goal_radius=1.0,
            max_episode_steps=150,
        ),
        Maze(
            name="PointmassHard-v0",
            layout=(
                "......#....",
                "......#....",
                "...........",
                "......#....",
                "......#....",
                "##.######.#",
                ".....#.....",
                ".....#.....",
                ".....#.....",
                "...........",
                ".....#.....",
            ),
            scale=2,
            start=(2.0, 2.0),
            goal=(20.0, 20.0),
            goal_radius=2.0,
            max_episode_steps=100,
        ),
    )
}
ENVS: tuple[str, ...] = tuple(MAZES)


def get_maze(maze: Maze | str) -> Maze:
    """``maze`` itself, or the maze of the Gymnasium id ``maze`` (one of :data:`ENVS`)."""
    if isinstance(maze, Maze):
        return maze
    if maze not in MAZES:
        raise ValueError(f"unknown maze {maze!r}: expected one of {', '.join(ENVS)}")
    return MAZES[maze]


# ---- the environment ----------------------------------------------------------------------


class PointmassEnv(gym.Env[np.ndarray, np.int64]):
    """A point mass in a maze: see the module docstring.

    Args:
        maze: a :class:`Maze`, or the id of one of :data:`MAZES`.
        action_noise: standard deviation of the Gaussian noise on each move, in cells; 0 makes
            the environment deterministic.
    """

    metadata = {"render_modes": []}

    def __init__(self, maze: Maze | str, action_noise: float = ACTION_NOISE) -> None:
        self.maze = get_maze(maze)
        if not (np.isfinite(action_noise) and action_noise >= 0.0):
            raise ValueError(f"expected a finite action_noise >= 0, got {action_noise}")
        self.action_noise = float(action_noise)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float64)
        self.action_space = gym.spaces.Discrete(len(ACTION_NAMES))
        self._size = np.array(self.maze.shape, dtype=np.float64)
        self._position = self.maze.start  # in cells

    def _observation(self) -> np.ndarray:
        return np.array(self._position) / self._size

    def _move(self, displacement: np.ndarray) -> tuple[float, float]:
        """Where the point ends after trying to move by ``displacement`` (in cells)."""
        # At most one cell per substep, so that no substep can jump over a wall.
        dx, dy = np.clip(displacement, -SUBSTEPS, SUBSTEPS).tolist()
        x0, y0 = self._position
        x, y = x0, y0
        accepted_x = accepted_y = 0
        for _ in range(SUBSTEPS):
            # Positions from counts of accepted substeps, not running sums, so that a full
            # noise-free move of one cell lands exactly on the next cell's centre.
            candidate = x0 + dx * ((accepted_x + 1) / SUBSTEPS)
            if self.maze.is_free((candidate, y)):
                x, accepted_x = candidate, accepted_x + 1
            candidate = y0 + dy * ((accepted_y + 1) / SUBSTEPS)
            if self.maze.is_free((x, candidate)):
                y, accepted_y = candidate, accepted_y + 1
        return x, y

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start at the maze's start, or at ``options["start"]``, an ``(x, y)`` in [0, 1]^2."""
        super().reset(seed=seed)
        if options is not None and "start" in options:
            start = np.asarray(options["start"], dtype=np.float64)
            if start.shape != (2,) or not np.all((start >= 0.0) & (start <= 1.0)):
                raise ValueError(
                    f"expected options['start'] to be an (x, y) in [0, 1]^2, got {start.tolist()}"
                )
            position = tuple((start * self._size).tolist())
            if not self.maze.is_free(position) or self.maze.in_goal(position):
                raise ValueError(
                    f"expected options['start'] in a free cell outside the goal region of "
                    f"{self.maze.name}, got {start.tolist()} (cell {self.maze.cell(position)})"
                )
            self._position = (position[0], position[1])
        else:
            self._position = self.maze.start
        return self._observation(), {}

    def step(
        self, action: int | np.integer
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(
                f"expected an action in 0..{len(ACTION_NAMES) - 1} ({', '.join(ACTION_NAMES)}), "
                f"got {action!r}"
            )
        noise = self.np_random.normal(0.0, self.action_noise, size=2)
        self._position = self._move(ACTIONS[int(action)] + noise)
        terminated = self.maze.in_goal(self._position)
        reward = 0.0 if terminated else -1.0
        # truncated=False: the time limit is the TimeLimit wrapper's, added by gym.make.
        return self._observation(), reward, terminated, False, {}


for _maze in MAZES.values():
    if _maze.name not in gym.registry:
        gym.register(
            id=_maze.name,
            entry_point=f"{__name__}:PointmassEnv",
            kwargs={"maze": _maze.name},
            max_episode_steps=_maze.max_episode_steps,
        )


def make_env(env_id: str, seed: int | None = None, **kwargs: Any) -> gym.Env:
    """Make one of hw5's mazes (:data:`ENVS`).

    Args:
        env_id: ``PointmassEasy-v0``, ``PointmassMedium-v0`` or ``PointmassHard-v0``.
        seed: seeds the action space; pass the same seed to the first ``reset(seed=...)``.
        **kwargs: ``action_noise``, or ``max_episode_steps`` to override the time limit.
    """
    get_maze(env_id)
    return make_base_env(env_id, seed, **kwargs)


# ---- cells, shortest paths and coverage ---------------------------------------------------


def _bins(maze: Maze, positions: np.ndarray, bins_per_cell: int) -> np.ndarray:
    """The bin ``(i, j)`` of each of ``positions`` ``(..., 2)`` on a grid ``bins_per_cell``
    times finer than the maze's, after checking that they are observations of it."""
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim == 0 or positions.shape[-1] != 2:
        raise ValueError(f"expected positions of shape (..., 2), got {positions.shape}")
    inside = np.all((positions >= 0.0) & (positions <= 1.0), axis=-1)  # False for NaN too
    if not np.all(inside):
        raise ValueError(
            f"expected positions in [0, 1]^2 (observations of {maze.name}), got "
            f"{int((~inside).sum())} outside it, the first {positions[~inside][0].tolist()}"
        )
    size = np.array(maze.shape) * bins_per_cell
    # The far edge of the square belongs to the last cell, as in the environment.
    return np.minimum(np.floor(positions * size).astype(np.int64), size - 1)


def cells_of(maze: Maze | str, positions: np.ndarray) -> np.ndarray:
    """The cell ``(i, j)`` of each position, as the environment's own collision checks see it.

    Args:
        maze: a :class:`Maze` or the id of one.
        positions: ``(..., 2)`` observations, in [0, 1]^2.

    Returns:
        ``(..., 2)`` int64 cell indices.
    """
    return _bins(get_maze(maze), positions, 1)


@functools.cache
def _grid_graph(maze: Maze) -> tuple[Any, np.ndarray]:
    """The free cells as a graph: a sparse ``(n, n)`` adjacency matrix joining each free cell
    to its free neighbours along x and y, and ``(width, height)`` node numbers (-1 on walls)."""
    from scipy.sparse import coo_matrix

    free = ~maze.walls
    nodes = np.full(free.shape, -1)
    nodes[free] = np.arange(free.sum())
    pairs_x = free[:-1, :] & free[1:, :]  # cell [i, j] and cell [i + 1, j]
    pairs_y = free[:, :-1] & free[:, 1:]  # cell [i, j] and cell [i, j + 1]
    rows = np.concatenate([nodes[:-1, :][pairs_x], nodes[:, :-1][pairs_y]])
    cols = np.concatenate([nodes[1:, :][pairs_x], nodes[:, 1:][pairs_y]])
    n = int(free.sum())
    adjacency = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
    return adjacency, nodes


def steps_to_goal(maze: Maze | str) -> np.ndarray:
    """For each cell, the fewest noise-free steps from its centre to the goal region.

    Each noise-free step moves the point from a cell's centre to a neighbour's, so this is the
    length of the shortest path in the grid graph of free cells to a *goal cell* (a free cell
    whose centre lies in the goal region). Following it to the goal from a cell with ``d`` steps
    earns :math:`-(d - 1)` (the last step earns 0), and the optimal value there with discount
    :math:`\\gamma` is :math:`-(1 - \\gamma^{d-1}) / (1 - \\gamma)` for :math:`d \\geq 1`.

    Returns:
        ``(width, height)`` float64 indexed ``[x, y]``: 0 on goal cells, ``inf`` on walls and on
        free cells with no path to the goal.
    """
    from scipy.sparse.csgraph import shortest_path

    maze = get_maze(maze)
    adjacency, nodes = _grid_graph(maze)
    goal_nodes = nodes[maze.goal_cells]
    # (goals, nodes) distances from every goal cell; the nearest one counts.
    distances = shortest_path(adjacency, directed=False, unweighted=True, indices=goal_nodes)
    steps = np.full(maze.shape, np.inf)
    steps[nodes >= 0] = distances.min(axis=0)
    return steps


def reachable_cells(maze: Maze | str) -> np.ndarray:
    """``(width, height)`` bool indexed ``[x, y]``: the free cells a point can reach from the
    maze's start (the denominator of :func:`coverage`)."""
    from scipy.sparse.csgraph import connected_components

    maze = get_maze(maze)
    adjacency, nodes = _grid_graph(maze)
    _, labels = connected_components(adjacency, directed=False)
    start_label = labels[nodes[maze.cell(maze.start)]]
    reachable = np.zeros(maze.shape, dtype=bool)
    reachable[nodes >= 0] = labels == start_label
    return reachable


def cell_centres(maze: Maze | str) -> np.ndarray:
    """``(width, height, 2)``: the centre of each cell as an observation, indexed ``[x, y]``;
    feed ``cell_centres(maze)[reachable_cells(maze)]`` to a network for per-cell values."""
    maze = get_maze(maze)
    x, y = np.meshgrid(*(np.arange(n) + 0.5 for n in maze.shape), indexing="ij")
    return np.stack([x, y], axis=-1) / np.array(maze.shape)


def visits(maze: Maze | str, positions: np.ndarray, bins_per_cell: int = 1) -> np.ndarray:
    """How many of ``positions`` (``(..., 2)`` observations) fall in each cell, or in each of
    ``bins_per_cell`` x ``bins_per_cell`` bins per cell; returns ``(width * bins_per_cell,
    height * bins_per_cell)`` int64 counts indexed ``[x, y]``."""
    maze = get_maze(maze)
    if not isinstance(bins_per_cell, int) or bins_per_cell < 1:
        raise ValueError(f"expected an integer bins_per_cell >= 1, got {bins_per_cell!r}")
    bins = _bins(maze, positions, bins_per_cell).reshape(-1, 2)
    counts = np.zeros(np.array(maze.shape) * bins_per_cell, dtype=np.int64)
    np.add.at(counts, (bins[:, 0], bins[:, 1]), 1)
    return counts


def coverage(maze: Maze | str, positions: np.ndarray, bins_per_cell: int = 1) -> float:
    """The fraction of the cells reachable from the start that hold at least one of
    ``positions`` (``(..., 2)`` observations, in [0, 1]^2); 0 for no positions.

    With ``bins_per_cell`` > 1, the fraction of the bins of those cells, each cell cut into
    ``bins_per_cell`` x ``bins_per_cell``: a finer number where a small maze's cells are all
    visited soon.
    """
    reachable = reachable_cells(maze)
    if bins_per_cell > 1:
        reachable = np.repeat(np.repeat(reachable, bins_per_cell, 0), bins_per_cell, 1)
    visited = visits(maze, positions, bins_per_cell) > 0
    return float((visited & reachable).sum() / reachable.sum())


# ---- heatmaps -----------------------------------------------------------------------------


def _draw_maze(figure: Any, image: np.ndarray, maze: Maze, *, norm: Any, cmap: str, label: str):
    """Draw ``image`` (indexed ``[x, y]``, any resolution) over the unit square, the walls in
    grey above it, the start and the goal region; returns the axes."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Ellipse

    ax = figure.subplots()
    width, height = maze.shape
    extent = (0.0, 1.0, 0.0, 1.0)
    # imshow draws rows as y: transpose the [x, y] arrays, origin at the bottom left.
    shown = ax.imshow(
        image.T, origin="lower", extent=extent, cmap=cmap, norm=norm, interpolation="nearest"
    )
    figure.colorbar(shown, ax=ax, label=label)
    walls = np.where(maze.walls, 1.0, np.nan)  # NaN: transparent
    ax.imshow(
        walls.T,
        origin="lower",
        extent=extent,
        cmap=ListedColormap(["0.45"]),
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
    )
    goal = np.array(maze.goal) / (width, height)
    radius = 2 * maze.goal_radius / np.array([width, height])
    ax.add_patch(Ellipse(tuple(goal), *radius, fill=False, color="tab:green", lw=1.5))
    ax.plot(*goal, "*", color="tab:green", markersize=12, label="goal")
    ax.plot(*(np.array(maze.start) / (width, height)), "o", color="tab:red", label="start")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_aspect(height / width)  # square cells
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize="small")
    return ax


def _save(figure: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")  # a long title or a colour bar kept whole
    return path


def plot_visitation(
    maze: Maze | str,
    positions: np.ndarray,
    path: str | Path,
    *,
    bins_per_cell: int = 1,
    title: str | None = None,
) -> Path:
    """Draw where ``positions`` fall over the maze (log colour scale, unvisited bins blank) to a
    PNG, titled with their :func:`coverage` unless ``title`` is given; returns the file's path.

    Args:
        maze: a :class:`Maze` or the id of one.
        positions: ``(..., 2)`` observations, in [0, 1]^2 (a dataset's, for instance).
        path: the PNG to write; its folder is made if missing.
        bins_per_cell: a finer picture: this many bins per cell along each axis.
        title: the picture's title.
    """
    # Matplotlib's object API without pyplot: no global backend or figure state is touched.
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.figure import Figure

    maze = get_maze(maze)
    counts = visits(maze, positions, bins_per_cell)
    image = np.ma.masked_equal(counts, 0)
    norm = LogNorm(1, counts.max()) if counts.max() > 1 else Normalize(0, 1)
    figure = Figure(figsize=(5.5, 5.0), layout="constrained")
    ax = _draw_maze(figure, image, maze, norm=norm, cmap="viridis", label="visits")
    n = int(counts.sum())
    ax.set_title(title or f"{maze.name}: {n} positions, coverage {coverage(maze, positions):.2f}")
    return _save(figure, path)


def plot_cell_values(
    maze: Maze | str,
    values: np.ndarray,
    path: str | Path,
    *,
    label: str = "value",
    cmap: str = "viridis",
    title: str | None = None,
) -> Path:
    """Draw one number per cell over the maze to a PNG (V, max Q, ``|V - V*|``, or
    :func:`steps_to_goal`); returns the file's path.

    Args:
        maze: a :class:`Maze` or the id of one.
        values: ``(width, height)`` indexed ``[x, y]``; NaN or infinite values (walls,
            unreachable cells) are left blank, and walls are drawn over whatever is there.
        path: the PNG to write; its folder is made if missing.
        label: the colour bar's label.
        cmap: a Matplotlib colour map (``"magma"`` suits errors).
        title: the picture's title (the maze's id if None).
    """
    from matplotlib.figure import Figure

    maze = get_maze(maze)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != maze.shape:
        raise ValueError(
            f"expected values of shape {maze.shape} (one per cell of {maze.name}, indexed "
            f"[x, y]), got {values.shape}"
        )
    shown = np.isfinite(values) & ~maze.walls
    if not shown.any():
        raise ValueError(f"expected a finite value on at least one free cell of {maze.name}")
    image = np.ma.masked_where(~shown, values)
    figure = Figure(figsize=(5.5, 5.0), layout="constrained")
    ax = _draw_maze(figure, image, maze, norm=None, cmap=cmap, label=label)
    ax.set_title(title or maze.name)
    return _save(figure, path)
