# METADATA
# title: Placeholder — replaced by the full decision policy
package soma

default allow := false
