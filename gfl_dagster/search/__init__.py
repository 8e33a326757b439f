"""Search: the query (query.py), retrieval and recommendations (retrieval.py); its evaluation is in
gfl_dagster_bench/eval/search/."""
