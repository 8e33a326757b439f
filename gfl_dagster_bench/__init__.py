"""`gfl bench`: scripts that print measured figures (not tests), each on a throwaway project."""
