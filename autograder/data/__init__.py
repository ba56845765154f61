"""The grader's own data files, one folder per homework (``hw5/``: the datasets of hw5's
hidden suite), each made by a script of this package that anyone can rerun (``python -m
autograder.data.make_hw5``). A homework's folder ships in its Gradescope bundle
(:mod:`autograder.bundle`), and in no student tree: ``rlhw release``'s leak check refuses every
file of ``autograder/`` but the few that the student's ``rlhw`` runs."""
