"""The vocabulary of kiemchung: documents, pages, fields, signatures, checks and verdicts."""
