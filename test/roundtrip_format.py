"""lit test format of the suite's --verify-roundtrip run (test/lit.cfg.py).

A module of its own: lit sends the format to its worker processes by pickling, which needs
a class that can be imported by name.
"""

import lit.formats


class RoundtripShTest(lit.formats.ShTest):
    """ShTest over the tests whose text mentions sqz-opt: only its invocations change in
    that run, so the other tests would run unchanged."""

    def getTestsInDirectory(self, testSuite, path_in_suite, litConfig, localConfig):
        for test in super().getTestsInDirectory(testSuite, path_in_suite, litConfig,
                                                localConfig):
            with open(test.getSourcePath(), errors="replace") as f:
                if "sqz-opt" in f.read():
                    yield test
