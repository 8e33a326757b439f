"""The one generation path every generator shares, and the checks generated text must pass."""
