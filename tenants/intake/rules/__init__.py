"""The row rules, one module per concern: `columns` maps a file's headers onto Régua's
fields, `rows` validates a batch of rows with the help of `documents` (CPF/CNPJ check
digits), `values` (dates, money, installments) and `contacts` (phones, e-mails)."""
