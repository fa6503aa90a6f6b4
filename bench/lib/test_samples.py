"""Unit tests of how the harness turns RSS samples and document counts into steady RSS, and
the sink's documents into counts and latencies."""
import unittest

from benchlib.scenarios import counted_samples, document_metrics, steady_rss


class CountedSamplesTest(unittest.TestCase):
    def test_interpolates_between_counts(self):
        samples = [(0.0, 0, [10]), (0.5, None, [20]), (1.0, 100, [30])]
        self.assertEqual([documents for _, documents, _ in counted_samples(samples)],
                         [0, 50.0, 100])

    def test_drops_samples_outside_the_counts(self):
        samples = [(0.0, None, [5]), (1.0, 0, [10]), (2.0, 100, [20]), (2.5, None, [30])]
        self.assertEqual([t for t, _, _ in counted_samples(samples)], [1.0, 2.0])

    def test_steady_rss_uses_samples_between_counts(self):
        # Counted once at the start and once at the end, as with a slow sink: only the
        # interpolated samples fall inside 25-90 % of the documents.
        samples = [(0.0, 0, [100]), (0.3, None, [200]), (0.6, None, [300]), (1.0, 1000, [400])]
        self.assertEqual(steady_rss(samples, 1000), 250)

    def test_steady_rss_without_samples_in_the_window(self):
        self.assertIsNone(steady_rss([(0.0, 0, [100]), (1.0, 1000, [400])], 1000))



class DocumentMetricsTest(unittest.TestCase):
    def test_streamed_documents(self):
        def documents():
            yield 100.5, {"id": "a", "srcStamp": "2026-12-05 10:00:00.000000",
                          "destStamp": "2026-12-05 10:00:00.001000"}
            yield 100.7, {"id": "b", "srcStamp": "2026-12-05 10:00:00.000000",
                          "destStamp": "2026-12-05 10:00:00.003000"}
            yield 100.9, {"id": "a", "srcStamp": "2026-12-05 10:00:00.000000",
                          "destStamp": "2026-12-05 10:00:00.002000"}
            yield 101.0, None  # a line that was not JSON

        metrics = document_metrics(documents(), 100.0)
        self.assertEqual(metrics["documents"], 2)
        self.assertEqual(metrics["duplicates"], 1)
        self.assertAlmostEqual(metrics["last_document_s"], 0.9)
        self.assertAlmostEqual(metrics["latency_p50_ms"], 2.0, places=3)
        self.assertAlmostEqual(metrics["latency_p99_ms"], 3.0, places=3)


if __name__ == "__main__":
    unittest.main()
