"""The grounding check's labelled sets: model outputs and real hosts' sentences, frozen (BENCHMARKS.md)."""
