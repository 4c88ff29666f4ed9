# OUT/junit.xml from OUT/report.json (ci/nightly/report.sh): one testsuite per target and engine,
# a passing testcase "fuzzing" for the run itself (its figures as properties), and one testcase
# per finding: <failure> for a new reliable one, <error> for a new reliable timeout or
# out-of-memory, <skipped> for a known or flaky one (finding_class in dashboard_lib.jq). The
# reproduce command is in each finding's <system-out>.
include "dashboard_lib";

def attr(name; value): " \(name)=\"\(value | xml)\"";

def testcase($suite):
  finding_class as $c
  | "    <testcase" + attr("classname"; "nightly.\($suite.target).\($suite.engine)")
    + attr("name"; "\(.id) \(.kind) \(.signature)") + ">\n"
    + (if $c == "known" or $c == "flaky" then
         "      <skipped" + attr("message"; "\($c) \(.kind): \(.signature) (\(.status), \(.reliability), reproduced \(.reproduced // "?"))") + "/>\n"
       else
         "      <\($c)" + attr("type"; .kind) + attr("message"; "\(.clause // .signature)")
         + ">\(.kind) \(.signature | xml)\nclause: \(.clause // "none" | xml)\nreproduced: \(.reproduced // "?" | xml)\ninput: \(.file | xml)\ntrace: \(.trace // "" | xml)</\($c)>\n"
       end)
    + "      <system-out>\(.command | xml)</system-out>\n"
    + "    </testcase>\n";

. as $r
| [suites[] | . as $s
   | ($r.targets[] | select(.name == $s.target) | .engines[] | select(.engine == $s.engine)) as $stats
     | {suite: $s, stats: $stats, findings: [$r.findings[] | select(.target == $s.target and .engine == $s.engine)]}
   ] as $suites
| def count(c): [$suites[].findings[] | finding_class | select(. == c)] | length;
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
  + "<testsuites" + attr("name"; "vmbsave nightly \($r.started)")
  + attr("tests"; [$suites[] | 1 + (.findings | length)] | add // 0)
  + attr("failures"; count("failure")) + attr("errors"; count("error"))
  + attr("skipped"; count("known") + count("flaky")) + ">\n"
  + ([$suites[] | .suite as $s | .findings as $f
      | [$f[] | finding_class] as $cs
      | "  <testsuite" + attr("name"; "\($s.target)/\($s.engine)")
        + attr("tests"; 1 + ($f | length))
        + attr("failures"; [$cs[] | select(. == "failure")] | length)
        + attr("errors"; [$cs[] | select(. == "error")] | length)
        + attr("skipped"; [$cs[] | select(. == "known" or . == "flaky")] | length)
        + attr("timestamp"; $r.started) + ">\n"
        + (if .stats then
             "    <properties>\n"
             + ([.stats | to_entries[] | select(.key != "engine")
                 | "      <property" + attr("name"; .key) + attr("value"; .value) + "/>\n"] | join(""))
             + "    </properties>\n"
             + "    <testcase" + attr("classname"; "nightly.\($s.target).\($s.engine)") + attr("name"; "fuzzing")
             + "/>\n"
           else "" end)
        + ([$f[] | testcase($s)] | join(""))
        + "  </testsuite>\n"] | join(""))
  + "</testsuites>\n"
