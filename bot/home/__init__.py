"""App Home: each person's to-do list and, for Q&I, the quarter's progress."""
