"""Framework-free checkpoint readers: each yields numpy arrays by name, lazily, without TF or torch."""
