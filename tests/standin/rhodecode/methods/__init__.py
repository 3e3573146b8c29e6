"""The API methods of RhodeCode CE 4.22, one module per 4.22 module (repo_api in three).

Importing the package registers them all (rpc.api)."""
from . import (comments, deprecated, gists, pull_requests, repo_content, repo_groups, repos, search,  # noqa: F401
               server_api, testing, user_groups, users)
