#!/usr/bin/env bash
# The steps of the otpfix GitHub Action (action.yml). Each step is `run.sh <step>`, configured by the
# action's inputs as INPUT_* variables, and writes outputs to $GITHUB_OUTPUT and a summary to
# $GITHUB_STEP_SUMMARY, as GitHub runners provide them. The test suite runs the same steps locally
# (test/action.test.ts), with OTPFIX_CMD pointing at the checkout instead of the npm package.
set -uo pipefail

step="${1:?usage: run.sh install|scan|gate|campaign}"
: "${GITHUB_OUTPUT:=/dev/null}"
: "${GITHUB_STEP_SUMMARY:=/dev/null}"
read -r -a otpfix <<< "${OTPFIX_CMD:-otpfix}"
read -r -a paths <<< "${INPUT_PATHS:-}"

output() { printf '%s=%s\n' "$1" "$2" >> "$GITHUB_OUTPUT"; }

# Options every analysing step shares.
common=()
[ -n "${INPUT_CONFIG:-}" ] && common+=(--config "$INPUT_CONFIG")
[ -n "${INPUT_BASELINE:-}" ] && common+=(--baseline "$INPUT_BASELINE")
[ -n "${INPUT_SHARD:-}" ] && common+=(--shard "$INPUT_SHARD")

case "$step" in
  install)
    if [ -n "${OTPFIX_CMD:-}" ]; then
      echo "using ${OTPFIX_CMD}"
    else
      npm install --global --no-fund --no-audit "otpfix@${INPUT_VERSION:-latest}" || exit 3
    fi
    "${otpfix[@]}" --version
    ;;

  scan)
    # Code scanning: SARIF, one category per shard so the shards' uploads do not replace each other.
    sarif="${INPUT_SARIF_FILE:-otpfix.sarif}"
    category="otpfix"
    if [ -n "${INPUT_SHARD:-}" ]; then category="otpfix-shard-${INPUT_SHARD/\//-of-}"; fi
    fail_on=()
    [ -n "${INPUT_FAIL_ON:-}" ] && fail_on=(--fail-on "$INPUT_FAIL_ON")
    status=0
    "${otpfix[@]}" scan "${paths[@]}" "${common[@]}" "${fail_on[@]}" --format sarif > "$sarif" || status=$?
    # 1 means findings (at or above fail-on, when given); anything else is a failure of the step.
    if [ "$status" -gt 1 ]; then echo "::error::otpfix scan failed (exit $status)"; exit "$status"; fi
    findings=$(node -e '
      const log = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      console.log(log.runs.flatMap((r) => r.results || []).filter((x) => !(x.suppressions || []).length).length);
    ' "$sarif")
    output sarif-file "$sarif"
    output category "$category"
    output findings "$findings"
    echo "### otpfix: ${findings} finding(s) (${category})" >> "$GITHUB_STEP_SUMMARY"
    # Findings are the upload's content; they fail the step only with fail-on.
    if [ "$status" -eq 1 ] && [ "${#fail_on[@]}" -gt 0 ]; then
      echo "::error::otpfix: findings at or above ${INPUT_FAIL_ON}"
      exit 1
    fi
    ;;

  gate)
    # Pull-request gate: annotations for what the pull request introduced, and no pending rewrite.
    base="${INPUT_BASE_REF:-}"
    if [ -z "$base" ] && [ -n "${GITHUB_BASE_REF:-}" ]; then base="origin/${GITHUB_BASE_REF}"; fi
    changed=()
    if [ -n "$base" ]; then changed=(--changed-since "$base"); [ "${INPUT_LINES:-false}" = "true" ] && changed+=(--lines); fi
    fail_on=()
    [ -n "${INPUT_FAIL_ON:-}" ] && fail_on=(--fail-on "$INPUT_FAIL_ON")
    scan_status=0
    "${otpfix[@]}" scan "${paths[@]}" "${common[@]}" "${changed[@]}" "${fail_on[@]}" --format github || scan_status=$?
    check_status=0
    "${otpfix[@]}" fix --check "${paths[@]}" "${common[@]}" "${changed[@]}" || check_status=$?
    output scan-status "$scan_status"
    output check-status "$check_status"
    {
      echo "### otpfix pull-request gate"
      [ "$scan_status" -eq 0 ] && echo "- no findings${base:+ in the changes since $base}" || echo "- findings reported as annotations (exit $scan_status)"
      [ "$check_status" -eq 0 ] && echo "- nothing for \`otpfix fix\` to rewrite" || echo "- \`otpfix fix\` would rewrite code: run it locally and commit the result"
    } >> "$GITHUB_STEP_SUMMARY"
    if [ "$scan_status" -ne 0 ]; then exit "$scan_status"; fi
    exit "$check_status"
    ;;

  campaign)
    # A scheduled campaign: branches and pull requests over the listed repositories, resumable
    # through the state file (the action keeps it between runs with actions/cache).
    args=(pr --repos "${INPUT_REPOS:?the campaign needs the repos input (a file listing repositories)}")
    args+=(--state "${INPUT_STATE:-.otpfix-campaign.json}" --concurrency "${INPUT_CONCURRENCY:-4}" --format json)
    [ -n "${INPUT_SHARD:-}" ] && args+=(--shard "$INPUT_SHARD")
    [ -n "${INPUT_PUSH:-origin}" ] && args+=(--push "${INPUT_PUSH:-origin}")
    [ "${INPUT_OPEN_PR:-true}" = "true" ] && args+=(--open-pr)
    [ -n "${INPUT_CONFIG:-}" ] && args+=(--config "$INPUT_CONFIG")
    [ -n "${INPUT_BRANCH_PREFIX:-}" ] && args+=(--branch-prefix "$INPUT_BRANCH_PREFIX")
    report="${INPUT_REPORT_FILE:-otpfix-campaign.json}"
    # Commits need an identity; a runner has none unless the workflow configured one.
    if ! git config --get user.email > /dev/null; then
      export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-github-actions[bot]}" GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-github-actions[bot]}"
      export GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-41898282+github-actions[bot]@users.noreply.github.com}"
      export GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-41898282+github-actions[bot]@users.noreply.github.com}"
    fi
    # Clones and pushes over HTTPS with the same token gh uses for the pull requests.
    if [ -n "${GH_TOKEN:-}" ] && command -v gh > /dev/null; then gh auth setup-git || true; fi
    status=0
    "${otpfix[@]}" "${args[@]}" > "$report" || status=$?
    output report "$report"
    if [ -s "$report" ]; then
      node -e '
        const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        const cell = (s) => String(s).replace(/\|/g, "\\|");
        const lines = ["### otpfix campaign", "", "| repository | status | branches | pull requests | failure |", "| --- | --- | --- | --- | --- |"];
        for (const x of r.repositories)
          lines.push(`| ${[x.repository, x.status + (x.earlierRun ? " (earlier run)" : ""), x.branches.join(", ") || "-", x.pullRequests.join(", ") || "-", x.failure || ""].map(cell).join(" | ")} |`);
        const s = r.summary;
        lines.push("", `${s.repositories} repositories: ${s.ok} ok, ${s.noChanges} without changes, ${s.failed} failed; ${s.branches} branches, ${s.pullRequests} pull requests.`);
        console.log(lines.join("\n"));
      ' "$report" >> "$GITHUB_STEP_SUMMARY"
    fi
    exit "$status"
    ;;

  *)
    echo "unknown step: $step (install, scan, gate or campaign)" >&2
    exit 2
    ;;
esac
