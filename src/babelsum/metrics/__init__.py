"""How good a summary is: multilingual ROUGE, bootstrap intervals, and the LLM judge."""
