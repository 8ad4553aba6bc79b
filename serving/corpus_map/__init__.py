"""The corpus map (`pcc map`): themes of the problems, causes and countermeasures of many papers, and their links."""
