-- best-vs-worst needs only the extremes from here on: free eligible.
DROP TABLE eligible
