#!/bin/sh
# The tree's dependency direction, kept by a test (ctest unit_layout):
#
#     lib/haravan  ->  lib/inbox  <-  lib/crm        (all may use lib/core)
#
# The Haravan side stores into the inbox and the CRM side processes out of
# it; neither includes the other, and the inbox includes neither, so each
# side can change (or be replaced) without the other. cgi/ is the glue.
# Every SQL statement on hv_events lives in lib/inbox/ (the one module that
# owns the inbox), so a statement text naming the table anywhere else is a
# statement that slipped out of it.
#
# Usage: layout.sh SOURCE_DIR. Prints every offending line; exit 1 if any.
set -u
root=${1:?usage: layout.sh SOURCE_DIR}
cd "$root" || exit 2
for dir in lib/haravan lib/inbox lib/crm; do
    [ -d "$dir" ] || { echo "layout: $dir is missing"; exit 2; }
done
status=0
report() {
    # $1: what is wrong; $2: the offending lines
    if [ -n "$2" ]; then
        echo "layout: $1:"
        echo "$2"
        status=1
    fi
}
report "the Haravan side or the inbox includes the CRM side" \
    "$(grep -rn '#[[:space:]]*include[[:space:]]*"crm/' lib/haravan lib/inbox)"
report "the CRM side or the inbox includes the Haravan side" \
    "$(grep -rn '#[[:space:]]*include[[:space:]]*"haravan/' lib/crm lib/inbox)"
report "a statement on hv_events outside lib/inbox/" \
    "$(grep -rnE '"[^"]*\bhv_events\b' lib cgi --include='*.c' --include='*.h' |
        grep -v '^lib/inbox/')"
[ "$status" -eq 0 ] && echo "layout: lib/haravan -> lib/inbox <- lib/crm; hv_events only in lib/inbox"
exit "$status"
