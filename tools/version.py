#!/usr/bin/env python3
"""Print the version from include/stockguard/version.h (its single source)."""
import os
import re

here = os.path.dirname(os.path.abspath(__file__))
text = open(os.path.join(here, '..', 'include', 'stockguard', 'version.h')).read()
parts = [re.search(r'#define STG_VERSION_%s (\d+)' % k, text).group(1)
         for k in ('MAJOR', 'MINOR', 'PATCH')]
print('.'.join(parts))
