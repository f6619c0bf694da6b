"""Reading a creditor's file: its format, encoding and header row, then batches of cells
(`reader`, `sheets`, `ods`, `xlsb`); `parsing` runs the row rules over those batches and
writes the error and warning reports; `sample` writes test and demo files."""
