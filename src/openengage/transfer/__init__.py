"""Moving data in and out of a store: import (through the API's rules) and export."""
