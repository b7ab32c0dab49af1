"""What users have, read as data: matrices and labels from every format the exporter takes."""
