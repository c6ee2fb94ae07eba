"""The offline demo: the paper's §5 watermark scenario (generated images, two small CNNs, one
trained with a planted shortcut) and the ``imacs demo`` command that runs it end to end."""
