"""The project bank: what a body did, how, with what, what came of it and what it
learned, shared with every commune of the network and adoptable with credit."""
