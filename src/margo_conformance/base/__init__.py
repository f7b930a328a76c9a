"""The suite's foundations: paths, errors, evidence, the requirements catalogue, schemas, redaction, TLS trust."""
