"""Bank accounts: open, deposit, withdraw, transfer, overdraft limits, closing."""
