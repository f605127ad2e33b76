"""The live window (PyQt6 + pyqtgraph): `python main.py gui`.

Threads (DESIGN.md, "Threads")::

    GUI thread          window.MainWindow: draws what it is given, nothing else
    capture thread      worker.PipelineWorker on a QThread: source -> pose -> Engine.submit_frame()
    model thread        the Engine's own thread: newest window -> Recognizer -> Prediction

Modules, one job each: ``app`` (the command and window assembly), ``window`` (layout, menus, every signal
connection), ``worker`` (the capture worker), ``player`` (a seekable video file), ``present`` (Predictions ->
what the widgets show), ``timeline`` (recorded predictions and their export), ``widgets/`` (display only).
"""
