"""`runwatch train`: placeholder registration until the trainer lands."""
