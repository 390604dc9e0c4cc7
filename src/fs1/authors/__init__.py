"""The authors' own files (github.com/jjzha/fs1) read into fs1's records: ``fs1 import``."""
