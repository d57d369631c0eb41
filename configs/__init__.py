"""The built-in run configs (`runwatch train --config smoke_cpu`), shipped as package data."""
