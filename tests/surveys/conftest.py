"""The campaign and survey tests' center (``tests.campaigns.center``)."""

from tests.campaigns.center import center as center
