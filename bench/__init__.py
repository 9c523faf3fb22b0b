"""The load benchmark (`make bench`): bench/run.py drives it, bench/report.py judges and formats the results."""
