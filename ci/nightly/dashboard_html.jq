# OUT/index.html from OUT/report.json (ci/nightly/report.sh): a self-contained page (inline CSS
# and SVG, no script, no external URL) that a person reads in a minute: the verdict, findings
# with their reproduce commands, the certify verdicts, coverage, the plots and the trend.
# Arguments (jq --slurpfile, so no size limit of a command line applies):
#   $svgs      [{"edges": "<svg...", "execs", "corpus", "trend_edges", "trend_findings",
#              "trend_coverage"}]: gnuplot's plots, absent where there is none
#   $nights    [OUT/history.json]: one night_summary per night, oldest first, this night last
#   $certifies [[OUT/certify/report.json]] or [[]]
#   $notes_in  [lines to show under the heading (previous folders skipped, no stats.csv, ...)]
include "dashboard_lib";

$svgs[0] as $svg | $nights[0] as $history | $certifies[0] as $certify | $notes_in[0] as $notes |

def h: xml;
def td: "<td>\(h)</td>";
def num: if type == "number" then (if . == floor then tostring else (. * 100 | round / 100 | tostring) end) else "-" end;
def tdn: "<td class=\"n\">\(num)</td>";
def link($href; $text): if $href then "<a href=\"\($href | h)\">\($text | h)</a>" else ($text | h) end;
def plot($name; $alt):
  if ($svg[$name] // "") != "" then "\n<figure class=\"plot\" id=\"plot-\($name)\" aria-label=\"\($alt | h)\">\($svg[$name])</figure>\n"
  else "<p class=\"none\">No data for \($alt | h).</p>" end;
def css: "
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1c2833;max-width:1200px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d5d8dc}
.verdict{font-size:16px;padding:10px 14px;border-radius:6px;margin:10px 0}
.v-clean{background:#d5f5e3}.v-new-findings{background:#fadbd8}.v-broken{background:#fcf3cf}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #d5d8dc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f2f3f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,monospace;background:#f4f6f6;padding:1px 3px;overflow-wrap:anywhere}
#findings{width:100%;table-layout:fixed}#findings td{overflow-wrap:anywhere}#certify td:last-child{min-width:520px}
.c-failure,.c-error,.FAIL,.CRASH,.TIMEOUT,.MEMORY_LIMIT{color:#a93226;font-weight:600}.c-flaky,.WARN{color:#b9770e}.c-known,.INFO,.NOT_RUN{color:#566573}.PASS{color:#1e8449}
figure.plot{margin:8px 0}figure.plot svg{max-width:100%;height:auto}.none{color:#566573}.notes{color:#7d6608}
.meta td:first-child{color:#566573}";

def findings_table:
  if (.findings | length) == 0 then "<p>No findings.</p>"
  else "<table id=\"findings\"><colgroup><col style=\"width:4%\"><col style=\"width:11%\"><col style=\"width:8%\"><col style=\"width:17%\"><col style=\"width:13%\"><col style=\"width:6%\"><col style=\"width:8%\"><col style=\"width:8%\"><col style=\"width:25%\"></colgroup>"
    + "<tr><th>id</th><th>target / engine</th><th>kind</th><th>signature</th><th>clause</th><th>new / known</th><th>reliable / flaky</th><th>files</th><th>reproduce</th></tr>"
    + ([.findings | sort_by(({failure: 0, error: 1, flaky: 2, known: 3}[finding_class]), .id)[]
        | finding_class as $c
        | "<tr class=\"c-\($c)\"><td class=\"c-\($c)\">\(.id | h)</td>" + ("\(.target)/\(.engine)" | td) + (.kind | td)
          + "<td class=\"sig\"><code>\(.signature | h)</code></td>" + (.clause // "-" | td)
          + (.status | td) + ("\(.reliability) (\(.reproduced // "?"))" | td)
          + "<td>" + ([link(.file; "input"), (if .minimized then link(.minimized; "minimized") else empty end),
                       (if .trace then link(.trace; "trace") else empty end),
                       (if .c_reproducer then link(.c_reproducer; "repro.c") else empty end)] | join(" ")) + "</td>"
          + "<td class=\"cmd\"><code>\(.command | h)</code></td></tr>"] | join(""))
    + "</table>" end;

def engines_table:
  "<table id=\"engines\"><tr><th>target</th><th>engine</th><th>executions</th><th>exec/s</th><th>corpus before</th><th>corpus after</th><th>edges</th><th>timeouts</th><th>ooms</th></tr>"
  + ([.targets[] | .name as $t | .engines[]
      | "<tr>" + ($t | td) + (.engine | td) + (.executions | tdn) + (.exec_per_s | tdn) + (.corpus_before | tdn)
        + (.corpus_after | tdn) + (.edges | tdn) + (.timeouts | tdn) + (.ooms | tdn) + "</tr>"] | join(""))
  + "</table>";

def certify_section:
  if ($certify | length) == 0 then
    (if .certify then "<p class=\"none\">report.json names a certify report (\(.certify.report | h)) but it is not in this folder.</p>"
     else "<p class=\"none\">certify did not run this night.</p>" end)
  else $certify[0] as $c
    | ({FAIL: 0, CRASH: 0, TIMEOUT: 0, MEMORY_LIMIT: 0, NOT_RUN: 1, WARN: 2, INFO: 3, PASS: 4}) as $rank
    | "<p>\(link("certify/report.html"; $c.implementation.file // $c.implementation.path // "implementation")):"
      + " <b class=\"\(if $c.certified then "PASS" else "FAIL" end)\">\($c.result // "?" | ascii_upcase | h)</b>,"
      + " \($c.counts.ran // 0) of \($c.counts.total // 0) cases ran"
      + (if $c.implementation.sha256 then ", sha256 <code>\($c.implementation.sha256 | h)</code>" else "" end) + ".</p>"
      + "<table id=\"certify-counts\"><tr>" + ([$c.counts // {} | to_entries[] | select(.key != "ran" and .key != "total") | "<th>\(.key | h)</th>"] | join("")) + "</tr><tr>"
      + ([$c.counts // {} | to_entries[] | select(.key != "ran" and .key != "total") | .value | tdn] | join("")) + "</tr></table>"
      + ([$c.cases // [] | .[] | select(.verdict != "PASS")] | sort_by($rank[.verdict] // 9, .id)) as $notpass
      | (if ($notpass | length) > 0 then
          "<table id=\"certify\"><tr><th>case (clause where it differs)</th><th>level</th><th>verdict</th><th>detail</th></tr>"
          + ([$notpass[:50][] | "<tr>" + (if (.clause // .id) == .id then .id else "\(.id) (\(.clause))" end | td) + (.level // "-" | td)
               + "<td class=\"\(.verdict | h)\">\(.verdict | h)</td>"
               + (.detail // "" | if length > 300 then .[:300] + " ..." else . end | td) + "</tr>"] | join(""))
          + "</table>"
          + (if ($notpass | length) > 50 then "<p>\($notpass | length - 50) more in \(link("certify/report.html"; "certify's report")).</p>" else "" end)
          + "<p>Rerun commands: \(link("certify/report.html"; "certify's report")).</p>"
         else "<p id=\"certify\">Every case passed.</p>" end)
      + "<details><summary>\([$c.cases // [] | .[] | select(.verdict == "PASS")] | length) passing cases</summary><p>"
      + ([$c.cases // [] | .[] | select(.verdict == "PASS") | .id | h] | join(", ")) + "</p></details>"
  end;

def coverage_section:
  if .coverage then
    "<p id=\"coverage\">Source coverage of reference/ and harness/ over the final corpora: "
    + "<b>\(.coverage.line_percent | num) %</b> of lines, <b>\(.coverage.branch_percent | num) %</b> of branches ("
    + link(.coverage.html // "coverage/index.html"; "llvm-cov report") + ").</p>"
  else "<p id=\"coverage\" class=\"none\">No coverage report this night (ci/nightly/coverage.sh did not run).</p>" end;

def mutation_section:
  if .mutation then
    "<p id=\"mutation\">\(.mutation.sample | num) mutants of reference/ drawn (seed \(.mutation.seed | num)): "
    + "<b>\(.mutation.killed | num) killed</b> (\(.mutation.killed_by_timeout | num) by timeout), "
    + "\(.mutation.survived | num) survived, \(.mutation.equivalent | num) listed equivalent, \(.mutation.stillborn | num) stillborn; score "
    + "<b>\(if .mutation.score then (.mutation.score * 1000 | round) / 10 else null end | num) %</b> ("
    + link(.mutation.summary // "mutation/summary.json"; "summary") + ").</p>"
    + (if (.mutation.survivors // [] | length) > 0 then
        "<table id=\"survivors\"><tr><th>survivor (a blind spot of the harness)</th><th>line</th><th>mutation</th></tr>"
        + ([.mutation.survivors[] | "<tr>" + (.file | td) + (.line | tdn) + "<td><code>\(.mutation | h)</code></td></tr>"] | join(""))
        + "</table>" else "" end)
  else "<p id=\"mutation\" class=\"none\">No mutants sampled this night (ci/main.sh --mutants N).</p>" end;

def history_section:
  if ($history | length) < 2 then "<p class=\"none\">No earlier nights given (--previous DIR); the trend starts with this one.</p>"
  else "<table id=\"history\"><tr><th>night</th><th>verdict</th><th>new</th><th>known</th><th>new reliable</th><th>edges (all targets and engines)</th><th>executions</th><th>lines %</th><th>branches %</th></tr>"
    + ([$history | reverse[] | "<tr>" + (.started | td) + (.verdict | td) + (.findings_new | tdn) + (.findings_known | tdn)
        + (.findings_new_reliable | tdn) + ([.edges[]] | add | tdn) + (.executions | tdn) + (.line_percent | tdn)
        + (.branch_percent | tdn) + "</tr>"] | join(""))
    + "</table>" + plot("trend_findings"; "findings per night") + plot("trend_edges"; "edges per night")
    + plot("trend_coverage"; "coverage per night") end;

"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>vmbsave nightly \(.started | h)</title>"
+ "<style>\(css)</style></head><body>\n"
+ "<h1>vmbsave nightly, \(.started | h)</h1>"
+ "<div class=\"verdict v-\(.verdict | h)\" id=\"verdict\">\(.verdict_line // .verdict | h)</div>"
+ (if ($notes | length) > 0 then "<ul class=\"notes\">" + ([$notes[] | "<li>\(h)</li>"] | join("")) + "</ul>" else "" end)
+ "<table class=\"meta\">"
+ "<tr><td>implementation</td><td>\(if .impl then "<code>\(.impl.path | h)</code> (sha256 <code>\(.impl.sha256 // "?" | h)</code>)" else "the reference" end)</td></tr>"
+ "<tr><td>run</td><td>\(.started | h) to \(.finished // "?" | h), budget \(.budget_seconds | num) s on \(.cores | num) cores, exit status \(.exit_status | num)</td></tr>"
+ (if .utilisation then "<tr><td>fuzzing</td><td>\(.utilisation.fuzz_core_seconds | num) of \((.utilisation.phase_core_seconds // .utilisation.budget_core_seconds) | num) core-seconds (\((.utilisation.fraction // null) | if type == "number" then . * 100 else null end | num) %)</td></tr>" else "" end)
+ (if .fixed_costs_seconds then "<tr><td>fixed costs</td><td>" + ([.fixed_costs_seconds | to_entries[] | "\(.key) \(.value | num) s"] | join(", ") | h) + "</td></tr>" else "" end)
+ "</table>\n"
+ "<h2>Findings</h2>" + findings_table
+ (if (.allowed_differences // [] | length) > 0 then
     "<h2>Differences the contract allows</h2><table id=\"allowed\"><tr><th>target</th><th>signature</th><th>input</th></tr>"
     + ([.allowed_differences[] | "<tr>" + (.target | td) + "<td><code>\(.signature | h)</code></td><td>\(link(.file; .file))</td></tr>"] | join(""))
     + "</table>" else "" end)
+ "<h2>Coverage</h2>" + coverage_section
+ "<h2>Fuzzing</h2>" + engines_table
+ plot("edges"; "coverage (edges) over time") + plot("execs"; "executions per second") + plot("corpus"; "corpus growth")
+ "<h2>Trend across nights</h2>" + history_section
+ "<h2>Certify</h2>" + certify_section
+ "<h2>Mutation score of the harness</h2>" + mutation_section
+ "\n</body></html>\n"
