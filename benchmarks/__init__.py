"""Benchmarks behind `python main.py bench {model,pipeline,train}`; each prints JSON."""
