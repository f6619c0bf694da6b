"""Loading valid rows into the tenant's tables: `store` merges each batch with COPY and
set-based SQL, `copy_data` builds binary COPY data, `file_keys` and `bloom_filter`
remember a file's contract keys across batches."""
