# Shared definitions of ci/nightly/report.sh's jq programs (dashboard_junit.jq, dashboard_sarif.jq,
# dashboard_html.jq): validating a nightly report.json (schema vmbsave-nightly/1), a night's
# summary for the history, and escaping.

# Text for XML or HTML: control characters XML 1.0 forbids become '?', then <>&'" are escaped.
def xml: tostring | explode | map(if . < 32 and . != 9 and . != 10 and . != 13 then 63 else . end)
    | implode | @html;

# The problems of a report.json, one message each; empty when it has the schema's shape.
def problems:
  def need(path; want; what):
    (try (getpath(path) | type) catch "missing") as $t
    | if ([want] | flatten | index($t)) == null then "\(what): \($t), expected \([want] | flatten | join(" or "))" else empty end;
  if type != "object" then "the top level is \(type), not an object"
  elif .schema != "vmbsave-nightly/1" then "schema is \(.schema | tojson), expected \"vmbsave-nightly/1\""
  else
    need(["started"]; "string"; "started"),
    need(["verdict"]; "string"; "verdict"),
    need(["targets"]; "array"; "targets"),
    need(["findings"]; "array"; "findings"),
    need(["coverage"]; ["object", "null"]; "coverage"),
    need(["certify"]; ["object", "null"]; "certify"),
    ((.targets // [])[]? | (if type != "object" then "targets[]: \(type), expected object"
        else need(["name"]; "string"; "targets[].name"), need(["engines"]; "array"; "targets[\(.name)].engines"),
             (.name as $n | .engines[]? | need(["engine"]; "string"; "targets[\($n)].engines[].engine"),
                (.engine as $e | ("executions", "exec_per_s", "corpus_before", "corpus_after", "edges", "timeouts", "ooms")
                   as $k | need([$k]; "number"; "targets[\($n)].engines[\($e)].\($k)")))
        end)),
    ((.findings // [])[]? | (if type != "object" then "findings[]: \(type), expected object"
        else (.id // "?") as $id
          | (("id", "target", "engine", "kind", "signature", "status", "reliability", "command", "file")
              as $k | need([$k]; "string"; "findings[\($id)].\($k)")),
            need(["clause"]; ["string", "null"]; "findings[\($id)].clause"),
            (if (.status | IN("new", "known")) then empty else "findings[\($id)].status: \(.status | tojson), expected new or known" end),
            (if (.reliability | IN("reliable", "flaky")) then empty else "findings[\($id)].reliability: \(.reliability | tojson), expected reliable or flaky" end),
            (if (.kind | IN("violation", "crash", "timeout", "oom", "differential")) then empty else "findings[\($id)].kind: \(.kind | tojson) is not a known kind" end)
        end))
  end;

# One night in the history (OUT/history.json's entries).
def night_summary:
  { started, verdict,
    findings_new: ([.findings[] | select(.status == "new")] | length),
    findings_known: ([.findings[] | select(.status == "known")] | length),
    findings_new_reliable: ([.findings[] | select(.status == "new" and .reliability == "reliable")] | length),
    edges: ([.targets[] | .name as $t | .engines[] | {key: "\($t)/\(.engine)", value: .edges}] | from_entries),
    executions: ([.targets[].engines[].executions] | add // 0),
    line_percent: (.coverage.line_percent // null),
    branch_percent: (.coverage.branch_percent // null) };

# Target/engine pairs: those fuzzed, then any a finding names that was not.
def suites:
  ([.targets[] | .name as $t | .engines[] | {target: $t, engine}]) as $fuzzed
  | $fuzzed + ([.findings[] | {target, engine}] | unique | map(select(. as $p | $fuzzed | index([$p]) | not)));

# How a finding counts (junit.xml, SARIF, the dashboard): a known or flaky one never fails the
# night; a new reliable timeout or out-of-memory is an error, any other new reliable one a failure.
def finding_class:
  if .status == "known" then "known"
  elif .reliability == "flaky" then "flaky"
  elif (.kind | IN("timeout", "oom")) then "error"
  else "failure" end;
