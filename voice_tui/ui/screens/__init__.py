"""Modal screens: persona menu, device menu, confirmations."""
