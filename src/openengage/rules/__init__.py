"""Pure rules over plain data: dates, attribute names and types, type locking, identity merge."""
