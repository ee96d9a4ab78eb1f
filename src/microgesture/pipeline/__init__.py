"""From a recording to a readable timeline: main-person tracking (``tracking``), the recognisers that turn a
stream into MG events (``recognizers``: window models, kinematic detectors), the ``analyze`` orchestrator
behind ``microgesture analyze``, batches of recordings (``batch``) and the demo (``demo``)."""
