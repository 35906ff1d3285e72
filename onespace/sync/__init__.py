"""The sync direction: local Swift containers -> remote S3 buckets / Swift containers."""
