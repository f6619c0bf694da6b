"""The row rules, one module per concern: `columns` maps a file's headers onto Régua's
fields, `rows` validates a batch of rows with the help of `values` (dates, money,
installments), `contacts` (phones, e-mails) and core.documents (CPF/CNPJ)."""
