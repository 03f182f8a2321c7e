"""What a module's forward pass returns: the main output that predictions and scores use."""


def main_output(output):
    """A module may return ``(logits, extras...)``; predictions use the first element."""
    return output[0] if isinstance(output, (tuple, list)) else output
