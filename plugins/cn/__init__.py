"""Chinese data rules shared by the built-in plugins: resident IDs, phones, divisions.

Kept as plain functions apart from the plugin modules so that the field types, the format
checkers and the expression functions all apply one definition of each rule.
"""
