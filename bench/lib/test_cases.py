"""Unit tests of how the harness picks the cases of a scenario from --only and --count, and the
order in which the contenders run."""
import unittest

from benchlib.cli import round_order, select_cases

STRICT = [{"concurrency": 32, "count": 5000, "sink": "strict"},
          {"concurrency": 32, "count": 20000, "sink": "strict"}]
SOAK = [{"duration_s": 600, "rate": 2000, "concurrency": 32}]


class SelectCasesTest(unittest.TestCase):
    def test_keeps_every_case_without_options(self):
        self.assertEqual(select_cases(STRICT, {}), STRICT)

    def test_only_matches_parameter_as_text(self):
        self.assertEqual(select_cases(STRICT, {"count": "20000"}), STRICT[1:])

    def test_only_without_match_selects_nothing(self):
        self.assertEqual(select_cases(STRICT, {"concurrency": "8"}), [])

    def test_count_replaces_each_case_count(self):
        cases = [{"concurrency": c, "count": 10000} for c in (1, 8)]
        self.assertEqual(select_cases(cases, {}, 40000),
                         [{"concurrency": 1, "count": 40000},
                          {"concurrency": 8, "count": 40000}])

    def test_count_merges_cases_made_equal(self):
        self.assertEqual(select_cases(STRICT, {}, 1000),
                         [{"concurrency": 32, "count": 1000, "sink": "strict"}])

    def test_count_leaves_cases_without_count(self):
        self.assertEqual(select_cases(SOAK, {}, 1000), SOAK)

    def test_count_applies_after_only(self):
        self.assertEqual(select_cases(STRICT, {"count": "5000"}, 300),
                         [{"concurrency": 32, "count": 300, "sink": "strict"}])

    def test_does_not_change_the_scenario_cases(self):
        cases = [dict(case) for case in STRICT]
        select_cases(cases, {}, 7)
        self.assertEqual(cases, STRICT)


class RoundOrderTest(unittest.TestCase):
    def test_rotates_by_one_each_round(self):
        self.assertEqual([round_order(["a", "b", "c"], r) for r in range(4)],
                         [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]])

    def test_every_position_equally_often(self):
        contenders = ["ours", "ours-uncoalesced", "node-sdk", "limit-dispatch"]
        for name in contenders:
            positions = [round_order(contenders, r).index(name) for r in range(8)]
            self.assertEqual(sorted(positions), [0, 0, 1, 1, 2, 2, 3, 3])

    def test_single_and_no_contender(self):
        self.assertEqual(round_order(["ours"], 3), ["ours"])
        self.assertEqual(round_order([], 2), [])


if __name__ == "__main__":
    unittest.main()
