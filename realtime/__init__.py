"""Everything between a camera and a prediction: sources, pose estimation, windows, the recognition engine.

Data flows one way::

    sources.Frame -> pose.PoseEstimator -> tracker.Tracker -> window.SkeletonWindow -> recognizer.Recognizer
                  -> recognizer.Prediction -> GUI / replay timeline

``engine.Engine`` wires these together and runs the model on its own thread; see its docstring for the API the
GUI wraps. Nothing in this package imports Qt, and MediaPipe is imported only when a MediaPipe backend is built.
"""
