"""Model construction on PaddleNLP's ELECTRA backbone, plus the seed's task heads."""
