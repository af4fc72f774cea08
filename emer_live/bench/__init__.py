"""`emer-live bench`: every pipeline stage timed on recorded inputs, the live path under load
(gaze intake at tracker rates, prediction rate, capture-to-prediction latency, memory over a
soak run), and the design's ratios (incremental vs full window update, offline replay vs real
time), written as bench.json + bench.md with the machine and execution provider.

run.run_bench(BenchConfig) is the entry point; report.render_markdown turns the JSON into the
Markdown report (numpy-free, so training.bench can merge its ORT-vs-PyTorch section into it).
"""
