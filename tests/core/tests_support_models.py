"""Model classes in an importable module, so another interpreter can unpickle them by reference."""

from tureen.pyfunc import PythonModel


class Doubler(PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input * 2


def counting_linear():
    """A torch module that counts its forward calls (torch imported only when asked for)."""
    import torch

    class CountingLinear(torch.nn.Module):
        calls = 0

        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 1)

        def forward(self, x):
            type(self).calls += 1
            return self.lin(x)

    return CountingLinear()
