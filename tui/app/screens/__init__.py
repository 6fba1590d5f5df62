"""The wizard's screens, one per step, and its dialogs."""
