"""Reports: what a run or a results directory shows (terminal, files)."""
