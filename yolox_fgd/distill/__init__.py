"""Teacher, feature hooks and the student+FGD module."""
